use lab_07_exercises::first_step::largest;

#[test]
fn largest_of_several() {
    assert_eq!(
        largest(&[3, 9, 2]),
        Some(9),
        "the largest of [3, 9, 2] is 9"
    );
}

#[test]
fn empty_has_no_largest() {
    assert_eq!(largest(&[]), None, "an empty slice has no largest item");
}
